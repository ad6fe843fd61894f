"""What people see: charts and the offline HTML report."""
