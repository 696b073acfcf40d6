"""Student kit: documented stubs of the seven Homework 3 modules (see README.md)."""
