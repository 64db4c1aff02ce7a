"""Data helpers shared by dataset plugins (first-party and third-party)."""
