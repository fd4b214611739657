"""Grading a class: reading the submissions, grading each in a worker, recording results in
the gradebook, the course-level settings, and collecting LMS archives."""
