"""The reference solution of Homework 3: the seven modules of HOMEWORK.md, done right."""
