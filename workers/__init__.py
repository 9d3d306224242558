"""Background processes: Dramatiq actors and the APScheduler process."""
