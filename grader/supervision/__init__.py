"""The supervision of the grader's processes: how they end, what they ignore, what they may reach.

    processes.py      the one kill (`kill_tree`: stop, then kill), the one reaper of orphans
                      (`end_orphans`, `end_strays`, `end_leftovers`), and the subreaper switch
    procfs.py         what /proc says of a process (state, parent, start time, user, pipes)
    prctl.py          the one wrapper of prctl(2): subreaper, parent-death signal, dumpable,
                      no_new_privs, the bounding set
    signals.py        the one signal policy: each process's dispositions, and which endings of a
                      child are suspect
    interruptions.py  the register of children disturbed from outside (graded again alone)
    cgroups.py        a memory and pids cgroup per child, where one can be made (its processes together)

Who uses them: grader/sandbox.py (the parent's side of one child), grader/zygote.py (the
forkserver of a batch worker), grader/batch/ (the workers), grader/build/gradescope_entry.py
(what is left at the end on Gradescope), grader/probes/ (the child's own walls). Every module
here imports the standard library only, and nothing else of the grader: the child and the
zygote import them, and the student kit ships them. docs/THREATS.md maps each threat to the
module that stops it and the test that proves it.
"""
