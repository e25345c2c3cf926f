"""Reference data of the territory: communes, practitioners, facilities, populations by age."""
