"""The kit's own assignments, one grading folder each (see ``autograder/assignment.py``)."""
