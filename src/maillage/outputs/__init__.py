"""Output writers the analytics share: atomic directories, GeoJSON, JSON, choropleth maps."""
