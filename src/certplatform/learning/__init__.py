"""Learning context: practice, mock exams, grading, remediation."""
