CREATE {% if unique %}UNIQUE {% endif %}INDEX {{ name }} ON {{ table }} ({{ columns|join(", ") }}){% if let Some(column) = only_positive %} WHERE {{ column }} > 0{% endif %};
