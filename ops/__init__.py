"""Operations (issue 21): systemd deployment, the daily batch and weekly backtest jobs, reports by
email, notifications while running, secrets at start. Imports only the kernel `mraster`; the jobs
drive the other applications (`mraster data`, `mraster backtest`) as child processes."""
