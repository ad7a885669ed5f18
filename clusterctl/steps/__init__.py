"""The runbook's steps. Each module gathers facts, decides what must change (pure), applies only that."""
