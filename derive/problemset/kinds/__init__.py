"""One module per problem kind: each validates its part's fields and answers what it asks."""
