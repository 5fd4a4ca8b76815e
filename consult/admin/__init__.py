"""Administration pages: accounts, communities, venues, alliance units and agreements."""
