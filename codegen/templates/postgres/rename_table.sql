ALTER TABLE {{ from }} RENAME TO {{ to }};
