"""Model files: recognise their format and kind, hash them, scan folders, open them safely."""
