"""clientrules: keep, renegotiate, refer out or terminate clients, and learn from those you lose."""
