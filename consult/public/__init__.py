"""Public pages: accountability pages, open data, the noticeboard and posters."""
