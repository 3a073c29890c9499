"""In the field: photos as evidence, deeds sent in batches, activities, residents' own reports, the phone app."""
