"""The exit codes every ``ttscale`` command uses (the README lists them)."""

COMPLETE = 0  # everything asked for was done
BAD_INPUT = 2  # an option, argument or input file was refused before any work (one line names it)
PARTIAL_RUN = 3  # the run finished and its report is written, but some of its work failed (e.g. samples)
INTERRUPTED = 130  # Ctrl-C: stored work is kept, the same command resumes (the shell's code for SIGINT)
