"""QR cards and the page they open: a resident's (or household's) balance on a cheap phone."""
