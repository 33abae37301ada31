"""Where everything of a campaign lives: one definition that the workflow and the library both use."""

DRAFTS_DIR = "drafts"
