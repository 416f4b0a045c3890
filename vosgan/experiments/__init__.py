"""The papers' experiments: Tables 4, 6-7, 9-12, Figs. 7-8, the comparison of every method and the main job."""
