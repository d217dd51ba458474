-- One database per service: services never share a database.
CREATE DATABASE lookout_patrol;
CREATE DATABASE lookout_visitors;
CREATE DATABASE lookout_alerts;
CREATE DATABASE lookout_reports;
CREATE DATABASE lookout_web;
