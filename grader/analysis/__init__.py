"""The class analyses: what a batch tells the instructor beyond each student's score.

They read the batch's results (and each submission's source, parsed, never run) and write only
what an instructor sees: OUT/checks.csv, OUT/regrade.csv and sections of OUT/report.html.

- items.py: item analysis, each check's pass rate and discrimination, and the checks that may be wrong;
- regrade.py: re-grade impact, what a change of rubric, reference or checks did to every student;
- alike.py: answers alike, submissions sharing rare wrong answers, and identical code;
- classreport.py: the three as report sections and checks.csv, each analysis and each submission
  failing alone;
- analysis_html.py: those sections as HTML (and the gradebook's notes), which report.html inserts;
- after_run.py: what grader/batch/run.py runs when a batch ends (the analyses).

The answers' fingerprints that alike.py compares are made while grading (grader/answers.py).
"""
