"""Jobs: the daily run and scoring on pandas (`batch`) and on Spark (`spark`)."""
