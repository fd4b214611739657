"""Reporting: grades.csv and the LMS CSV, the class report, the feedback pages, and making
every page built from student output inert."""
