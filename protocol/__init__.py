"""alertnode's wire protocol: pure values in, pure values out.

Rule: nothing in this package performs I/O, reads a clock or touches a database.
Time is passed in as integer Unix seconds; randomness and keys are passed in.
"""
