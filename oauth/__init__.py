"""The OAuth 2.0 / OpenID Connect authorization server (Authlib). Built in a later issue;
the package exists so the layout and its dependency direction are fixed from the start."""
