"""The kernel lab page: editor, parameters, views, benchmark."""
