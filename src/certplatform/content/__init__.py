"""Content context: certifications, subjects, topics, questions and their versions, forms."""
