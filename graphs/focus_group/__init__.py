"""focus_group: one open question to some personas of chosen clusters, answered in character, then grouped into themes with quotes."""
