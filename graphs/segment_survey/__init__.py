"""segment_survey: one closed question to the personas of chosen clusters, weighted by the records they stand for."""
