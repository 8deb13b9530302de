"""The window, its menus, start-up and the About box."""
