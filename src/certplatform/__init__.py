"""cert-platform: exam preparation — question bank, practice, CBT mock exams, remediation."""
