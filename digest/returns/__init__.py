"""What comes back to the return path: classified, proven and applied to the list."""
