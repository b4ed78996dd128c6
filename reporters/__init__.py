"""What people see: the alert log, the terminal dashboard, notifications, the end-of-day report."""
