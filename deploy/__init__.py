"""deploy: the container entrypoint's decisions as plain, testable code (L4T check, engines, what to run).

Nothing here imports torch; the serving images run it before the service starts.
"""
