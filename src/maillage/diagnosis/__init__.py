"""The main job: access to care for every commune of a study area, with zoning and outputs."""
