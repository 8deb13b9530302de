"""Widgets and helpers every page uses: style, plots, background jobs, sample grids."""
