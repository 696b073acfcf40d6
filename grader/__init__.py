"""hw3grade's grader. Kept import-free: the child process imports `grader.probes` only."""
