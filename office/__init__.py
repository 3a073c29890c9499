"""The village office: the clerk's, the reviewer's and the county admin's screens."""
