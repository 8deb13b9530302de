"""Text datasets: importing texts as samples (``importing``), reading files of texts
(``reading``) and finding texts by their words (``search``)."""
