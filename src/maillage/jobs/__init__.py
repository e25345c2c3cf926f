"""Background jobs: long work (a national diagnosis, a plan) runs on a Redis queue, never in a
web request; progress is kept beside the job so that pages can show it."""
