"""Starting a campaign: a campaign folder around the installed workflow, from a bundled task or, with the
job importer, from the researcher's own NVFlare job."""
