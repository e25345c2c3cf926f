"""Server-rendered French web pages for planners and care teams."""
