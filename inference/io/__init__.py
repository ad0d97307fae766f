"""Input and output: reading articles and data sets, records, output writers and the HTML report."""
