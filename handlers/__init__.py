"""One module per OpenAPI tag, one function per operationId (in snake_case).

Each handler takes the arguments connexion has already validated against `openapi.yaml`,
makes one storage call, and shapes the answer. Errors are raised, never built here.
"""
