"""Audience: contacts from the griffies' exports, and the segment rules that select them."""
