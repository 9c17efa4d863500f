"""Share-link providers and the one safe HTTP download path."""
