"""Batch computing on the simulated cluster (chapter 09): a small DFS (:mod:`.dfs`), MapReduce's master
and workers as actors (:mod:`.mapreduce`) and the shipped jobs with their sequential reference
(:mod:`.jobs`)."""
